-- Health of a contact-converter ContactConversion.
-- https://github.com/contactconverter/contact-converter
local hs = {}

local function condition(conditionType)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function isTrue(conditionType)
  local c = condition(conditionType)
  return c ~= nil and c.status == "True"
end

local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end
if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report the conversion's status"
  return hs
end
if (obj.status.observedGeneration or 0) < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local phase = obj.status.phase or ""
local ready = condition("Ready")

if isTrue("Stalled") then
  hs.status = "Degraded"
  hs.message = condition("Stalled").message or "Stalled"
  return hs
end
if phase == "Failed" then
  hs.status = "Degraded"
  if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
    hs.message = ready.message
  else
    hs.message = "The conversion failed"
  end
  return hs
end
if phase == "ConflictsPending" then
  hs.status = "Suspended"
  local unresolved = 0
  local secret = ""
  if obj.status.conflicts ~= nil then
    unresolved = obj.status.conflicts.unresolved or 0
    secret = obj.status.conflicts.reportSecret or ""
  end
  hs.message = unresolved .. " unresolved conflicts wait for a person: settle them in spec.conflicts.resolutions"
  if secret ~= "" then
    hs.message = hs.message .. " (the list is in Secret " .. secret .. ")"
  end
  return hs
end
local suspended = condition("Suspended")
if phase == "Paused" or (suspended ~= nil and suspended.status == "True") then
  hs.status = "Suspended"
  if suspended ~= nil and suspended.reason == "SuspendedByUser" then
    hs.message = "Suspended by spec.suspend: set it to false, or run the resume action, to go on"
  else
    hs.message = "Paused outside its window"
  end
  if obj.status.nextWindowStart ~= nil then
    hs.message = hs.message .. "; the next window opens at " .. obj.status.nextWindowStart
  end
  return hs
end
if phase == "Running" then
  hs.status = "Progressing"
  local percent = 0
  if obj.status.progress ~= nil then
    percent = obj.status.progress.percent or 0
  end
  hs.message = "Running: " .. percent .. "%"
  return hs
end
if phase == "Waiting" or phase == "Succeeded" or (ready ~= nil and ready.status == "True") then
  hs.status = "Healthy"
  if ready ~= nil and ready.message ~= nil then
    hs.message = ready.message
  else
    hs.message = phase
  end
  return hs
end
hs.status = "Progressing"
if ready ~= nil and ready.message ~= nil then
  hs.message = ready.message
else
  hs.message = "Phase " .. phase
end
return hs
