-- 1,000,000 pushes, then map / filter / reduce with anonymous functions.
local function map(t, f)
  local out = {}
  for i = 1, #t do
    out[i] = f(t[i])
  end
  return out
end

local function filter(t, f)
  local out = {}
  for i = 1, #t do
    local v = t[i]
    if f(v) then
      out[#out + 1] = v
    end
  end
  return out
end

local function reduce(t, f, init)
  local acc = init
  for i = 1, #t do
    acc = f(acc, t[i])
  end
  return acc
end

local xs = {}
for i = 0, 1000000 - 1 do
  xs[#xs + 1] = i
end
local doubled = map(xs, function(x) return x * 2 end)
local picked = filter(doubled, function(x) return x % 3 == 0 end)
local total = reduce(picked, function(acc, x) return acc + x end, 0)
print(total)
