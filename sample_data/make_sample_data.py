"""Regenerate the bundled sample data (fixed seed, so the files are reproducible).

    python sample_data/make_sample_data.py

houses.csv / houses.parquet: 500 synthetic house sales. Columns of very different
scales (price ~1e5-1e7, area ~1e2, rooms ~1-8, a timestamp-like column ~1.7e9), a
skewed positive column for `log` (price), a column with negatives (temperature), a few
missing values, and text columns (id, city) that pass through unchanged.
activations.npy: float32 ReLU-like activations, N x C x H x W = 8 x 16 x 12 x 12, for
`normcli lrn`.
"""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent


def houses(rng: np.random.Generator, n: int = 500) -> pa.Table:
    cities = np.array(["Lisbon", "Porto", "Braga", "Faro", "Coimbra"])
    city = cities[rng.integers(0, len(cities), n)]
    area = np.round(rng.gamma(6.0, 18.0, n) + 25, 1)
    rooms = np.clip(np.round(area / 35 + rng.normal(0, 0.8, n)), 1, 8).astype(np.int64)
    price = np.round(np.exp(rng.normal(12.6, 0.7, n)) * (area / 90) ** 0.8, -2)
    listed_at = np.round(1.70e9 + rng.uniform(0, 6.3e7, n))  # unix seconds, 2023-2025
    temperature = np.round(rng.normal(14.0, 7.5, n), 1)
    distance = np.round(rng.exponential(4.0, n), 3)
    for col, k in ((area, 7), (temperature, 12), (distance, 4)):
        col[rng.choice(n, k, replace=False)] = np.nan
    return pa.table(
        {
            "id": [f"H{i:04d}" for i in range(n)],
            "city": city,
            "price": price,
            "area_sqm": pa.array(area, from_pandas=True),
            "rooms": rooms,
            "listed_at": listed_at,
            "temperature_c": pa.array(temperature, from_pandas=True),
            "distance_km": pa.array(distance, from_pandas=True),
        }
    )


def activations(rng: np.random.Generator) -> np.ndarray:
    pre = rng.normal(0.0, 1.0, (8, 16, 12, 12)) * rng.uniform(0.2, 30.0, (1, 16, 1, 1))
    return np.maximum(pre, 0.0).astype(np.float32)


def main() -> None:
    rng = np.random.default_rng(20261122)
    table = houses(rng)
    pacsv.write_csv(table, HERE / "houses.csv", pacsv.WriteOptions(quoting_style="needed"))
    pq.write_table(table, HERE / "houses.parquet")
    np.save(HERE / "activations.npy", activations(rng), allow_pickle=False)


if __name__ == "__main__":
    main()
