-- Build 300,000 strings with `..` concatenation (Lua's templates); the
-- checksum is their total length.
local total = 0
for i = 0, 300000 - 1 do
  local s = "order-" .. i .. ": qty=" .. i % 13 .. " sku=SKU" .. i * 7
  total = total + #s
end
print(total)
