# 1,000,000 appends, then map / filter / reduce with lambdas.
from functools import reduce


def main():
    xs = []
    for i in range(1_000_000):
        xs.append(i)
    doubled = list(map(lambda x: x * 2, xs))
    picked = list(filter(lambda x: x % 3 == 0, doubled))
    total = reduce(lambda acc, x: acc + x, picked, 0)
    print(total)


main()
