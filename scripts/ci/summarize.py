#!/usr/bin/env python3
"""Sums the counters of every .trx file under a folder and prints 'N passed, N failed, N skipped'.
Exits 1 when a test failed or no test ran."""
import glob, os, sys
import xml.etree.ElementTree as ET

root = sys.argv[1] if len(sys.argv) > 1 else "."
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
files = glob.glob(os.path.join(root, "**", "*.trx"), recursive=True)
for f in files:
    # Count the individual results: vstest's summary counters leave skipped tests out.
    for r in ET.parse(f).getroot().iterfind("t:Results/t:UnitTestResult", ns):
        outcome = r.get("outcome", "")
        if outcome == "Passed":
            passed += 1
        elif outcome in ("NotExecuted", "Inconclusive"):
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
