# Build 300,000 strings with f-strings; the checksum is their total length.


def main():
    total = 0
    for i in range(300_000):
        s = f"order-{i}: qty={i % 13} sku=SKU{i * 7}"
        total += len(s)
    print(total)


main()
