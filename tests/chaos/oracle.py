"""tests/chaos/oracle.py - what every replica must hold, computed from the
changes alone, without the store's code.

The fold is the one docs/STORE.md states (M2, M3, M5): for each record and
field, the heads are the changes setting that field that no other change of
that field names in its base; the value is the greatest head's (versions
compare as strings: fixed-width hex clock, then site); a record is deleted
when its `_deleted` pseudo-field folds to true; a (record, field) is in
conflict when its heads carry two or more different values.

Scope follows the default schema's scope paths (member, need, visit and
contact_card through their household; need_action through its need;
households and village_income through their area; an area is its own
area; cadres belong to none and go everywhere).
"""
import json


def canon(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def fold(changes):
    """changes: {version: change}.  Returns (records, conflicts):
    records {id: {"type", "fields", "deleted"}}, conflicts {(id, field): [values]}."""
    by_rid = {}
    for c in changes.values():
        by_rid.setdefault(c["id"], []).append(c)
    records, conflicts = {}, {}
    for rid, cs in by_rid.items():
        types = {c["type"] for c in cs}
        if len(types) != 1:
            raise ValueError("record %s has changes of types %s" % (rid, sorted(types)))
        per_field = {}
        for c in cs:
            for f in c.get("set", {}):
                per_field.setdefault(f, []).append(c)
        fields, deleted = {}, False
        for f, fcs in per_field.items():
            named = set()
            for c in fcs:
                named.update((c.get("base") or {}).get(f, []))
            heads = [c for c in fcs if c["v"] not in named]
            if not heads:
                raise ValueError("record %s field %s: no head (a cycle of bases)" % (rid, f))
            win = max(heads, key=lambda c: c["v"])
            if f == "_deleted":
                deleted = bool(win["set"][f])
            else:
                fields[f] = win["set"][f]
            values = {canon(c["set"][f]) for c in heads}
            if len(values) > 1:
                conflicts[(rid, f)] = sorted(values)
        records[rid] = {"type": types.pop(), "fields": fields, "deleted": deleted}
    return records, conflicts


def live(records):
    """The records an export shows: not deleted, null fields left out."""
    out = {}
    for rid, r in records.items():
        if not r["deleted"]:
            out[rid] = {"type": r["type"], "fields": strip(r["fields"])}
    return out


def strip(fields):
    return {k: v for k, v in fields.items() if v is not None}


class Scope:
    def __init__(self, records):
        self.recs = records  # {id: {"type", "fields", ...}}

    def area_of(self, rid, depth=0):
        r = self.recs.get(rid)
        if r is None or depth > 8:
            return None
        t, f = r["type"], r["fields"]
        if t == "area":
            return rid
        if t in ("household", "village_income"):
            return f.get("area")
        if t in ("member", "need", "visit", "contact_card"):
            return self.area_of(f.get("household"), depth + 1)
        if t == "need_action":
            return self.area_of(f.get("need"), depth + 1)
        return None

    def within(self, area, roots):
        seen = 0
        while area is not None and seen < 10:
            if area in roots:
                return True
            a = self.recs.get(area)
            area = a and a["fields"].get("parent")
            seen += 1
        return False

    def holds(self, rid, roots):
        """Whether a device enrolled for `roots` receives record `rid`."""
        r = self.recs.get(rid)
        if r is None:
            return False
        if r["type"] == "cadre":
            return True
        return self.within(self.area_of(rid), roots)
