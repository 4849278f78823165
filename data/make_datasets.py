#!/usr/bin/python3
"""Writes the bundled datasets of data/ from scikit-learn's bundled copies (no download).

CSV, a header row, features first and the label column `target` last. Numbers are written with
repr() precision so that the C++ reader sees exactly the values scikit-learn holds.
Run from anywhere: python3 data/make_datasets.py
"""
import csv
import os
import re

from sklearn import datasets

HERE = os.path.dirname(os.path.abspath(__file__))


def column_name(name):
    name = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower()
    return name


def write(name, bunch, integer_target=True):
    path = os.path.join(HERE, name + ".csv")
    header = [column_name(f) for f in bunch.feature_names] + ["target"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for row, t in zip(bunch.data, bunch.target):
            w.writerow([repr(float(v)) if not float(v).is_integer() else str(int(v)) for v in row]
                       + [str(int(t)) if integer_target else repr(float(t))])
    print("wrote", path, bunch.data.shape)


write("iris", datasets.load_iris())
write("digits", datasets.load_digits())
write("wine", datasets.load_wine())
write("breast_cancer", datasets.load_breast_cancer())
write("diabetes", datasets.load_diabetes(), integer_target=False)
