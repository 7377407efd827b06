#!/usr/bin/env python3
"""Check Kubernetes manifests offline against the Kubernetes API schema.

    deploy/k8s/validate.py MANIFEST.yaml...

No cluster and no network: the schema is the one Debian's python3-kubernetes
(the official Python client) was generated from, the API's OpenAPI
specification (client 22.6: Kubernetes 1.22). Each document's apiVersion
and kind name its model (batch/v1 Job: V1Job); every field is looked up in
the model's attribute map, recursively, with its type (object, list, map,
string, integer, boolean), so a misspelled or misplaced field is an error
(kubectl would drop it with a warning, or refuse it only with a server at
hand); then the client's own model checks run (required fields, enums).

Exit status: 0 all valid; 1 an error (each printed as FILE: PATH: what);
77 python3-kubernetes or python3-yaml missing (apt-get install
python3-kubernetes).
"""
import difflib
import re
import sys

try:
    import yaml
    import kubernetes.client as kc
    from kubernetes.client import ApiClient
except ImportError as e:  # the suite skips: exit 77
    print(f"skip: {e} (apt-get install python3-kubernetes)", file=sys.stderr)
    sys.exit(77)

PRIMITIVES = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "date": (str,),
    "datetime": (str,),
    "object": (object,),
}


def model_name(api_version, kind):
    """batch/v1 + Job -> V1Job; v1 + Pod -> V1Pod."""
    version = api_version.split("/")[-1]
    return version[:1].upper() + version[1:] + kind


def check(value, typ, path, errors):
    m = re.fullmatch(r"list\[(.*)\]", typ)
    if m:
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, v in enumerate(value):
            check(v, m.group(1), f"{path}[{i}]", errors)
        return
    m = re.fullmatch(r"dict\(str, (.*)\)", typ)
    if m:
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        for k, v in value.items():
            check(v, m.group(1), f"{path}.{k}", errors)
        return
    if typ in PRIMITIVES:
        ok = isinstance(value, PRIMITIVES[typ])
        if typ in ("int", "float") and isinstance(value, bool):
            ok = False
        if not ok:
            errors.append(f"{path}: expected {typ}, got {type(value).__name__}")
        return
    cls = getattr(kc, typ, None)
    if cls is None:
        errors.append(f"{path}: no model {typ} in the schema")
        return
    if not isinstance(value, dict):
        errors.append(f"{path}: expected an object ({typ}), got "
                      f"{type(value).__name__}")
        return
    by_json = {j: attr for attr, j in cls.attribute_map.items()}
    for k, v in value.items():
        attr = by_json.get(k)
        if attr is None:
            near = difflib.get_close_matches(k, by_json, n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            errors.append(f"{path}.{k}: unknown field of {typ}{hint}")
            continue
        if v is not None:
            check(v, cls.openapi_types[attr], f"{path}.{k}", errors)


def validate(doc, where):
    errors = []
    if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
        return [f"{where}: not a Kubernetes object (apiVersion, kind)"]
    name = model_name(doc["apiVersion"], doc["kind"])
    if getattr(kc, name, None) is None:
        return [f"{where}: unknown apiVersion/kind "
                f"{doc['apiVersion']} {doc['kind']}"]
    check(doc, name, where, errors)
    if not errors:
        # the client's own checks: required fields, enum values
        try:
            ApiClient()._ApiClient__deserialize(doc, name)
        except (ValueError, TypeError) as e:
            errors.append(f"{where}: {e}")
    return errors


def main(paths):
    if not paths:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    bad = 0
    for p in paths:
        try:
            with open(p) as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
        except (OSError, yaml.YAMLError) as e:
            print(f"{p}: {e}", file=sys.stderr)
            bad += 1
            continue
        if not docs:
            print(f"{p}: no document", file=sys.stderr)
            bad += 1
        for i, d in enumerate(docs):
            for e in validate(d, f"{p}#{i + 1}" if len(docs) > 1 else p):
                print(e, file=sys.stderr)
                bad += 1
    if not bad:
        print(f"valid: {', '.join(paths)} (Kubernetes API schema of "
              f"python3-kubernetes {kc.__version__ if hasattr(kc, '__version__') else ''})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
