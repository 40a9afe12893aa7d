-- wrk script: creates provisioning flows as fast as the simulator answers.
--   TOKEN=$(...) wrk -t1 -c64 -d10s -s post.lua http://127.0.0.1:PORT
-- Every fourth request starts a new flow set, and the four requests of a
-- set create its four flow types (the seed's bodies, in CSDL casing), so
-- nothing is a duplicate. Non-201 answers are counted and printed at the end.

local token = os.getenv("TOKEN") or ""
local base = "/beta/external/industryData/outboundProvisioningFlowSets/"

local bodies = {
  [[{"@odata.type":"#microsoft.graph.industryData.administrativeUnitProvisioningFlow","creationOptions":{"createBasedOnOrg":true,"createBasedOnOrgPlusRoleGroup":true}}]],
  [[{"@odata.type":"#microsoft.graph.industryData.securityGroupProvisioningFlow","creationOptions":{"createBasedOnRoleGroup":true,"createBasedOnOrgPlusRoleGroup":false}}]],
  [[{"@odata.type":"#microsoft.graph.industryData.classGroupProvisioningFlow","configuration":{"@odata.type":"#microsoft.graph.industryData.classGroupConfiguration","additionalAttributes":["courseTitle","courseCode","courseSubject","courseGradeLevel","courseExternalId","academicSessionTitle","academicSessionExternalId"],"additionalOptions":{"@odata.type":"#microsoft.graph.industryData.additionalClassGroupOptions","createTeam":true,"writeDisplayNameOnCreateOnly":true},"enrollmentMappings":{"@odata.type":"#microsoft.graph.industryData.enrollmentMappings","ownerEnrollmentMappings":[{"@odata.type":"#microsoft.graph.industryData.sectionRoleReferenceValue","code":"teacher"},{"@odata.type":"#microsoft.graph.industryData.sectionRoleReferenceValue","code":"proctor"},{"@odata.type":"#microsoft.graph.industryData.sectionRoleReferenceValue","code":"teacherAssistant"}],"memberEnrollmentMappings":[{"@odata.type":"#microsoft.graph.industryData.sectionRoleReferenceValue","code":"student"},{"@odata.type":"#microsoft.graph.industryData.sectionRoleReferenceValue","code":"aide"}]}}}]],
  [[{"@odata.type":"#microsoft.graph.industryData.userProvisioningFlow","createUnmatchedUsers":true,"managementOptions":{"additionalAttributes":["userGradeLevel"],"additionalOptions":{"markAllStudentsAsMinors":true,"allowStudentContactAssociation":false}},"creationOptions":{"configurations":[{"roleGroup@odata.bind":"https://graph.microsoft.com/beta/external/industryData/roleGroups/staff","defaultPasswordSettings":{"@odata.type":"#microsoft.graph.industryData.simplePasswordSettings","password":"********"},"licenseSkus":["Sku1"]},{"roleGroup@odata.bind":"https://graph.microsoft.com/beta/external/industryData/roleGroups/students","defaultPasswordSettings":{"@odata.type":"#microsoft.graph.industryData.simplePasswordSettings","password":"********"},"licenseSkus":["Sku2"]}]}}]],
}

local threads = {}
local thread_no = 0

function setup(thread)
  thread_no = thread_no + 1
  thread:set("id", thread_no)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  bad = 0
  headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }
end

function request()
  local set = string.format("%08x-0000-4000-8000-%012x", id, math.floor(n / 4))
  local body = bodies[(n % 4) + 1]
  n = n + 1
  return wrk.format("POST", base .. set .. "/provisioningFlows", headers, body)
end

function response(status, hdrs, body)
  if status ~= 201 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, t in ipairs(threads) do
    total_bad = total_bad + t:get("bad")
  end
  io.write(string.format("non-201 responses: %d\n", total_bad))
end
