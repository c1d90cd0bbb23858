-- 200,000 table inserts and 200,000 lookups (half of them misses) with
-- concatenated string keys.
local stock = {}
local count = 0
for i = 0, 200000 - 1 do
  stock["sku-" .. i] = i % 100
  count = count + 1
end
local total = 0
local misses = 0
for i = 0, 200000 - 1 do
  local qty = stock["sku-" .. i * 2]
  if qty ~= nil then
    total = total + qty
  else
    misses = misses + 1
  end
end
print(total * 1000000 + misses + count)
