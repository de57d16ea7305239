#!/usr/bin/env python3
"""Build evals/data/sales.csv, the data of evals/csv_headers.yaml, from the Chinook SQLite file.

    python3 scripts/evals/build_sales_csv.py [--sqlite PATH] [--out PATH]

One row per invoice (412 rows, about 40 KB), with capitalised headers that contain spaces, as
spreadsheets export them:

    Invoice Id, Invoice Date, Customer Name, Billing City, Billing State, Billing Country,
    Sales Rep, Items, Total

`Invoice Date` is YYYY-MM-DD, `Billing State` is empty when Chinook has no state (NULL),
`Items` is the number of tracks on the invoice, `Total` has two decimals. Standard library
only; the output is byte-identical on rebuild.
"""
import argparse
import csv
import sqlite3
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADERS = ["Invoice Id", "Invoice Date", "Customer Name", "Billing City", "Billing State",
           "Billing Country", "Sales Rep", "Items", "Total"]
QUERY = """
SELECT i.InvoiceId,
       substr(i.InvoiceDate, 1, 10),
       c.FirstName || ' ' || c.LastName,
       i.BillingCity,
       i.BillingState,
       i.BillingCountry,
       e.FirstName || ' ' || e.LastName,
       (SELECT SUM(il.Quantity) FROM InvoiceLine il WHERE il.InvoiceId = i.InvoiceId),
       i.Total
FROM Invoice i
JOIN Customer c ON c.CustomerId = i.CustomerId
LEFT JOIN Employee e ON e.EmployeeId = c.SupportRepId
ORDER BY i.InvoiceId
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sqlite", default="/work/shared/data/chinook/chinook.sqlite")
    ap.add_argument("--out", default=str(ROOT / "evals" / "data" / "sales.csv"))
    a = ap.parse_args()
    con = sqlite3.connect(f"file:{a.sqlite}?mode=ro", uri=True)
    rows = con.execute(QUERY).fetchall()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADERS)
        for r in rows:
            *rest, total = r
            w.writerow(["" if v is None else v for v in rest] + [f"{total:.2f}"])
    print(f"{out}: {len(rows)} rows, {out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
