"""Workload: object-heavy particle simulation.

A population of ``Particle`` objects (plain classes with ``__dict__``) moves
on a grid; each step creates new ``Vector`` instances for every position and
velocity update, buckets particles into a dict of cells, lets collisions spawn
and retire particles. Allocation pattern: many short-lived small instances and
their dicts, plus a slowly churning long-lived population.
"""
import random

from _harness import main, profile


class Vector:
    """A 2-D vector; every arithmetic result is a new object."""

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __add__(self, other):
        return Vector(self.x + other.x, self.y + other.y)

    def scale(self, k):
        return Vector(self.x * k, self.y * k)


class Particle:
    """A particle with a position, a velocity and an age."""

    def __init__(self, pos, vel, ident):
        self.pos = pos
        self.vel = vel
        self.ident = ident
        self.age = 0


def step(particles, rng, next_id):
    """Advance every particle one tick; return the survivors and the next id."""
    cells = {}
    for p in particles:
        p.pos = p.pos + p.vel.scale(0.1)
        p.pos = Vector(p.pos.x % 100.0, p.pos.y % 100.0)
        p.age += 1
        cells.setdefault((int(p.pos.x) // 2, int(p.pos.y) // 2), []).append(p)
    survivors = []
    for members in cells.values():
        if len(members) > 3:
            members.sort(key=lambda q: q.age)
            members = members[:3]
            for _ in range(2):
                survivors.append(Particle(Vector(rng.random() * 100, rng.random() * 100),
                                          Vector(rng.uniform(-1, 1), rng.uniform(-1, 1)), next_id))
                next_id += 1
        survivors.extend(members)
    return survivors, next_id


@profile
def run(scale):
    """Simulate 6,000 particles for a number of steps; return a checksum."""
    rng = random.Random(2)
    particles = [Particle(Vector(rng.random() * 100, rng.random() * 100),
                          Vector(rng.uniform(-1, 1), rng.uniform(-1, 1)), i) for i in range(6000)]
    next_id = len(particles)
    for _ in range(int(25 * scale)):
        particles, next_id = step(particles, rng, next_id)
    return len(particles) * 1000003 + next_id


if __name__ == "__main__":
    main(run)
