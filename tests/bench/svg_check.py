#!/usr/bin/env python3
"""tests/bench/svg_check.py - read a coil-bench SVG the way an XML tool
would (xml.etree: it must parse) and print what it holds, one "key value"
a line: the panels, the points of each polyline by class, the stage lines,
the legend's labels, and anything that would make the file not
self-contained (script elements, event attributes, external references)."""
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
print("root", root.tag.replace(NS, ""))
external = 0
for el in root.iter():
    tag = el.tag.replace(NS, "")
    if tag in ("script", "foreignObject", "image", "use", "a"):
        external += 1
    for k, v in el.attrib.items():
        if k.lower().startswith("on") or "href" in k or "url(" in v:
            external += 1
print("external", external)
for g in root.iter(NS + "g"):
    cls = g.get("class", "")
    if cls.startswith("panel "):
        print("panel", cls.split()[1])
for pl in root.iter(NS + "polyline"):
    pts = pl.get("points", "").split()
    for p in pts:
        x, y = p.split(",")
        float(x), float(y)
    print("points", pl.get("class").replace(" ", "."), len(pts))
stages = sum(1 for l in root.iter(NS + "line") if l.get("class", "").startswith("stage"))
print("stages", stages)
legend = [g for g in root.iter(NS + "g") if g.get("class") == "legend"]
for t in legend[0].iter(NS + "text") if legend else []:
    if t.text and not t.text.startswith("(a)"):
        print("label", t.text)
