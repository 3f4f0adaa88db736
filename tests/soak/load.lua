-- tests/soak/load.lua - the wrk script of tests/soak/load: a mixed load on
-- connect-api. Arguments: DIR (reads.txt, lists.txt, files.txt, hot.txt:
-- one request path a line) and VAULT (the vault POSTs and DELETEs go to).
--
-- Per 1,000 requests, at random: 550 item GETs (reads.txt), 100 item lists
-- (lists.txt: the whole small vault, filtered lists of the large one), 100
-- file GETs (files.txt: file objects and their content), 150 PATCHes of a
-- title (hot.txt: a few items written again and again, without a version;
-- two PATCHes of one item racing give one 409, by design: docs/connect-api.md), 30 POSTs of a new item, each DELETEd by the next request of the
-- thread that saw its answer (so the number of items stays put), 70 GETs of
-- /v1/vaults. Every answer is counted by its status; done() prints one
-- line for tests/soak/load to read:
--   soak-load: requests N 2xx N 4xx N 5xx N statuses S:N,... posts N deletes N
local reads, lists, files, hot = {}, {}, {}, {}
local vault = ""
local todelete = {}
-- globals: done() reads them from each thread with thread:get()
statuses = {}
c2, c4, c5, posts, deletes = 0, 0, 0, 0, 0
local nthreads = 0
local threads = {}
local seq = 0

function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

local function lines(path)
  local t = {}
  for l in io.lines(path) do
    if l ~= "" then t[#t + 1] = l end
  end
  return t
end

function init(args)
  reads = lines(args[1] .. "/reads.txt")
  lists = lines(args[1] .. "/lists.txt")
  files = lines(args[1] .. "/files.txt")
  hot = lines(args[1] .. "/hot.txt")
  vault = args[2]
  math.randomseed(os.time() + (tid or 0) * 7919)
end

local function hdrs(json)
  local h = {}
  for k, v in pairs(wrk.headers) do h[k] = v end
  if json then h["Content-Type"] = "application/json" end
  return h
end

function request()
  if #todelete > 0 then
    deletes = deletes + 1
    return wrk.format("DELETE", "/v1/vaults/" .. vault .. "/items/" .. table.remove(todelete), hdrs(false))
  end
  local x = math.random(1000)
  seq = seq + 1
  if x <= 550 then
    return wrk.format("GET", reads[math.random(#reads)], hdrs(false))
  elseif x <= 650 then
    return wrk.format("GET", lists[math.random(#lists)], hdrs(false))
  elseif x <= 750 then
    return wrk.format("GET", files[math.random(#files)], hdrs(false))
  elseif x <= 900 then
    local body = '[{"op":"replace","path":"/title","value":"hot-' .. (tid or 0) .. '-' .. seq .. '"}]'
    return wrk.format("PATCH", hot[math.random(#hot)], hdrs(true), body)
  elseif x <= 930 then
    posts = posts + 1
    local body = '{"title":"tmp-' .. (tid or 0) .. '-' .. seq .. '","category":"LOGIN",' ..
      '"fields":[{"id":"password","type":"CONCEALED","purpose":"PASSWORD","value":"pw-' .. seq .. '"}]}'
    return wrk.format("POST", "/v1/vaults/" .. vault .. "/items", hdrs(true), body)
  else
    return wrk.format("GET", "/v1/vaults", hdrs(false))
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 500 then
    c5 = c5 + 1
  elseif status >= 400 then
    c4 = c4 + 1
  elseif status >= 200 and status < 300 then
    c2 = c2 + 1
  end
  if status == 200 and body ~= nil and body:find('"title":"tmp-', 1, true) then
    -- the item's id follows its vault reference (view/items.c, decorate)
    local id = body:match('"vault":%s*{%s*"id":%s*"%w+"%s*},%s*"id":%s*"(%w+)"')
    if id ~= nil then table.insert(todelete, id) end
  end
end

function done(summary, latency, requests)
  local t2, t4, t5, tp, td = 0, 0, 0, 0, 0
  local all = {}
  for _, t in ipairs(threads) do
    t2 = t2 + (t:get("c2") or 0)
    t4 = t4 + (t:get("c4") or 0)
    t5 = t5 + (t:get("c5") or 0)
    tp = tp + (t:get("posts") or 0)
    td = td + (t:get("deletes") or 0)
    local s = t:get("statuses") or {}
    for k, v in pairs(s) do all[k] = (all[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(all) do parts[#parts + 1] = k .. ":" .. v end
  table.sort(parts)
  io.write(string.format("soak-load: requests %d 2xx %d 4xx %d 5xx %d statuses %s posts %d deletes %d\n",
    summary.requests, t2, t4, t5, table.concat(parts, ","), tp, td))
end
