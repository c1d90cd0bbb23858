# 200,000 dict inserts and 200,000 lookups (half of them misses) with f-string keys.


def main():
    stock = {}
    for i in range(200_000):
        stock[f"sku-{i}"] = i % 100
    total = 0
    misses = 0
    for i in range(200_000):
        qty = stock.get(f"sku-{i * 2}")
        if qty is not None:
            total += qty
        else:
            misses += 1
    print(total * 1_000_000 + misses + len(stock))


main()
