#!/usr/bin/env python3
"""Builds the bundled nycflights13 sample: five zstd-compressed Parquet files.

Source: the CSV copy of the public-domain (CC0) `nycflights13` dataset kept in
`../shared/data/nycflights13/` (flights.csv.zip, airlines.csv, airports.csv, planes.csv,
weather.csv). Missing values there are written `NA`; they become NULL here.

Usage (needs only pyarrow; tested with pyarrow 26):

    python3 -m venv /tmp/pa && /tmp/pa/bin/pip install pyarrow
    /tmp/pa/bin/python data/nycflights13/build.py [SOURCE_DIR]

SOURCE_DIR defaults to $NYCFLIGHTS13_SRC or /work/shared/data/nycflights13. Output goes next to
this script. The build is deterministic: the same input gives the same rows, types and order.

`time_hour`: the source writes it as a UTC instant (`2013-01-01T10:00:00Z`). We convert it to
America/New_York wall-clock time and store it as a timestamp *without* time zone
(`timestamp[us]`), so it agrees with the `year`, `month`, `day` and `hour` columns, which are
local New York time in the source. At the November DST change two different instants can share
one local hour; that ambiguity is accepted for a demo dataset.

After writing, the script checks row counts, that `time_hour` agrees with year/month/day/hour,
and prints the reference answers recorded in README.md.
"""

import io
import os
import sys
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
I32, F64, STR = pa.int32(), pa.float64(), pa.string()
UTC_TS = pa.timestamp("s", tz="UTC")

# Column order and types per table. `time_hour` is read as UTC and converted below.
SCHEMAS = {
    "flights": {
        "year": I32, "month": I32, "day": I32,
        "dep_time": I32, "sched_dep_time": I32, "dep_delay": F64,
        "arr_time": I32, "sched_arr_time": I32, "arr_delay": F64,
        "carrier": STR, "flight": I32, "tailnum": STR, "origin": STR, "dest": STR,
        "air_time": F64, "distance": I32, "hour": I32, "minute": I32,
        "time_hour": UTC_TS,
    },
    "airlines": {"carrier": STR, "name": STR},
    "airports": {
        "faa": STR, "name": STR, "lat": F64, "lon": F64, "alt": I32, "tz": I32,
        "dst": STR, "tzone": STR,
    },
    "planes": {
        "tailnum": STR, "year": I32, "type": STR, "manufacturer": STR, "model": STR,
        "engines": I32, "seats": I32, "speed": I32, "engine": STR,
    },
    "weather": {
        "origin": STR, "year": I32, "month": I32, "day": I32, "hour": I32,
        "temp": F64, "dewp": F64, "humid": F64, "wind_dir": I32, "wind_speed": F64,
        "wind_gust": F64, "precip": F64, "pressure": F64, "visib": F64,
        "time_hour": UTC_TS,
    },
}
# The dataset's own documentation (the nycflights13 package's help pages, shortened), stored as
# Parquet metadata: `description` on each table's schema and on each column's field. The
# DataFusion connector shows them as the table's and the columns' comments, as a warehouse
# shows its catalog's comments.
DOCS = {
    "flights": ("On-time data for every flight that departed New York City (airports EWR, JFK "
                "and LGA) in 2013, one row per flight", {
        "year": "date of departure (year)",
        "month": "date of departure (month)",
        "day": "date of departure (day)",
        "dep_time": "actual departure time, local, HHMM; NULL when the flight was cancelled",
        "sched_dep_time": "scheduled departure time, local, HHMM",
        "dep_delay": "departure delay in minutes; negative = early",
        "arr_time": "actual arrival time, local, HHMM",
        "sched_arr_time": "scheduled arrival time, local, HHMM",
        "arr_delay": "arrival delay in minutes; negative = early",
        "carrier": "two-letter airline code; airlines.carrier gives its name",
        "flight": "flight number",
        "tailnum": "plane tail number; planes.tailnum gives the plane",
        "origin": "departure airport's FAA code (EWR, JFK or LGA); airports.faa gives its name",
        "dest": "destination airport's FAA code; airports.faa gives its name",
        "air_time": "minutes in the air",
        "distance": "distance between the airports in miles",
        "hour": "scheduled departure hour",
        "minute": "scheduled departure minute",
        "time_hour": "scheduled date and hour of departure; with origin, joins weather",
    }),
    "airlines": ("Airline names by carrier code", {
        "carrier": "two-letter airline code",
        "name": "airline's full name",
    }),
    "airports": ("Airports by FAA code", {
        "faa": "FAA airport code, as in flights.origin and flights.dest",
        "name": "airport's name",
        "lat": "latitude",
        "lon": "longitude",
        "alt": "altitude in feet",
        "tz": "hours from UTC",
        "dst": "daylight saving time: A = US rules, U = unknown, N = none",
        "tzone": "IANA time zone",
    }),
    "planes": ("Planes by tail number, from the FAA aircraft registry", {
        "tailnum": "tail number",
        "year": "year the plane was manufactured",
        "type": "type of aircraft",
        "manufacturer": "manufacturer",
        "model": "model",
        "engines": "number of engines",
        "seats": "number of seats",
        "speed": "average cruising speed in mph",
        "engine": "type of engine",
    }),
    "weather": ("Hourly weather at the three New York City airports", {
        "origin": "weather station: the airport's FAA code, as in flights.origin",
        "year": "local date of the recording (year)",
        "month": "local date of the recording (month)",
        "day": "local date of the recording (day)",
        "hour": "local hour of the recording",
        "temp": "temperature in °F",
        "dewp": "dew point in °F",
        "humid": "relative humidity in %",
        "wind_dir": "wind direction in degrees",
        "wind_speed": "wind speed in mph",
        "wind_gust": "wind gust speed in mph",
        "precip": "precipitation in inches",
        "pressure": "sea level pressure in millibars",
        "visib": "visibility in miles",
        "time_hour": "local date and hour of the recording; with origin, joins flights",
    }),
}
EXPECTED_ROWS = {"flights": 336_776, "airlines": 16, "airports": 1_458, "planes": 3_322,
                 "weather": 26_115}
# Row groups small enough that DataFusion can scan in parallel and stop early under a LIMIT.
ROW_GROUP_SIZE = 65_536


def read_source(src: Path, table: str) -> pa.Table:
    """Reads one source CSV (flights from inside its zip) with explicit types."""
    if table == "flights":
        with zipfile.ZipFile(src / "flights.csv.zip") as z:
            raw = io.BytesIO(z.read("flights.csv"))
    else:
        raw = io.BytesIO((src / f"{table}.csv").read_bytes())
    types = SCHEMAS[table]
    convert = pcsv.ConvertOptions(
        column_types=types,
        null_values=["NA"],
        # Only the literal `NA` is missing; an empty string stays an empty string.
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        include_columns=list(types),
    )
    t = pcsv.read_csv(raw, convert_options=convert)
    if "time_hour" in types:
        # Re-tag the UTC instants with New York's zone, then take the wall-clock time there.
        local = pc.local_timestamp(t["time_hour"].cast(pa.timestamp("s", tz="America/New_York")))
        t = t.set_column(t.schema.get_field_index("time_hour"), "time_hour",
                         local.cast(pa.timestamp("us")))
    return t


def document(t: pa.Table, table: str) -> pa.Table:
    """Attaches the table's and its columns' descriptions as Parquet (Arrow) metadata."""
    about, columns = DOCS[table]
    fields = [f.with_metadata({"description": columns[f.name]}) for f in t.schema]
    schema = pa.schema(fields, metadata={"description": about})
    return t.cast(schema)


def check_time_hour(t: pa.Table) -> None:
    """Asserts that time_hour's local date and hour equal the year/month/day/hour columns."""
    th = t["time_hour"]
    for part, col in (("year", "year"), ("month", "month"), ("day", "day"), ("hour", "hour")):
        got = getattr(pc, part)(th).cast(pa.int32())
        same = pc.equal(got, t[col].cast(pa.int32()))
        bad = len(t) - pc.sum(same.cast(pa.int64())).as_py()
        if bad:
            raise SystemExit(f"time_hour disagrees with {col} in {bad} rows")


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else
               os.environ.get("NYCFLIGHTS13_SRC", "/work/shared/data/nycflights13"))
    total = 0
    tables = {}
    for table in SCHEMAS:
        t = read_source(src, table)
        if len(t) != EXPECTED_ROWS[table]:
            raise SystemExit(f"{table}: {len(t)} rows, expected {EXPECTED_ROWS[table]}")
        if "time_hour" in t.column_names:
            check_time_hour(t)
        t = document(t, table)
        out = HERE / f"{table}.parquet"
        pq.write_table(t, out, compression="zstd", compression_level=9,
                       row_group_size=ROW_GROUP_SIZE, write_statistics=True)
        size = out.stat().st_size
        total += size
        tables[table] = t
        print(f"{table:9} {len(t):>8,} rows  {size:>10,} bytes  {out.name}")
    print(f"{'total':9} {'':>8}       {total:>10,} bytes")

    # Reference answers (recorded in README.md and checked by the Rust tests).
    f = tables["flights"]
    by = f.group_by("carrier").aggregate([("dep_delay", "mean"), ("dep_delay", "count")])
    by = by.sort_by([("dep_delay_mean", "descending")])
    print("\naverage dep_delay by carrier (minutes, NULLs ignored), worst first:")
    for row in by.to_pylist():
        print(f"  {row['carrier']}  {row['dep_delay_mean']:.4f}  n={row['dep_delay_count']}")
    per_origin = f.group_by("origin").aggregate([("origin", "count")]).sort_by("origin")
    print("\nflights per origin:", per_origin.to_pylist())
    print("cancelled (dep_time NULL):", f["dep_time"].null_count)


if __name__ == "__main__":
    main()
