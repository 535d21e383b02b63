-- Asks for a run now, ignoring the windows, as
-- `kubectl annotate contactconversion NAME contacts.contactconverter.io/run-requested-at=<now>` does.
local os = require("os")
if obj.metadata == nil then
  obj.metadata = {}
end
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["contacts.contactconverter.io/run-requested-at"] = os.date("!%Y-%m-%dT%XZ")
return obj
