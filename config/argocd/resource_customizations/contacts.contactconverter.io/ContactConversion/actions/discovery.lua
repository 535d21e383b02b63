local actions = {}
local suspended = obj.spec ~= nil and obj.spec.suspend == true

-- Run now, ignoring the windows (not spec.suspend).
actions["run-now"] = {
  ["iconClass"] = "fa fa-fw fa-play",
  ["displayName"] = "Run the conversion now",
  ["disabled"] = suspended
}
if suspended then
  actions["resume"] = {
    ["iconClass"] = "fa fa-fw fa-play",
    ["displayName"] = "Resume the conversion"
  }
else
  actions["suspend"] = {
    ["iconClass"] = "fa fa-fw fa-pause",
    ["displayName"] = "Suspend the conversion"
  }
end
return actions
