-- 10 million iterations of a `while` loop with `%` and `+=` (Lua has no `+=`).
local i = 0
local sum = 0
while i < 10000000 do
  sum = sum + i % 7
  i = i + 1
end
print(sum)
