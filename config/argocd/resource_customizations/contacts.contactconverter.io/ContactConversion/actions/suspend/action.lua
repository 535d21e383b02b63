-- Pauses the conversion: a running Job is suspended and resumes later from its checkpoints.
if obj.spec == nil then
  obj.spec = {}
end
obj.spec.suspend = true
return obj
