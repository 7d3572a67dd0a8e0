"""Tests of the benchmarks and drills under bench/."""
