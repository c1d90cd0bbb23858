# 100,000 records (dicts, Python's usual JSON record) converted to compact JSON
# text with json.dumps; the checksum is the total length of the text.
import json


def main():
    total = 0
    for i in range(100_000):
        line = {
            "id": i,
            "sku": f"SKU-{i % 1000}",
            "qty": i % 17,
            "urgent": i % 3 == 0,
            "note": 'leave at "door"' if i % 5 == 0 else None,
            "tags": [i % 2, i % 7],
        }
        total += len(json.dumps(line, separators=(",", ":")))
    print(total)


main()
