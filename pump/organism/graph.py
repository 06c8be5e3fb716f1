"""Strongly connected components (Tarjan, iterative so deep graphs cannot overflow the stack)."""

from __future__ import annotations


def strongly_connected(vertices: list[int], edges: dict[int, list[int]]) -> list[list[int]]:
    """The strongly connected components of the graph, each sorted, in a deterministic order."""
    order: dict[int, int] = {}
    lowlink: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in vertices:
        if root in order:
            continue
        work: list[tuple[int, int]] = [(root, 0)]
        while work:
            vertex, child_index = work.pop()
            if child_index == 0:
                order[vertex] = lowlink[vertex] = counter
                counter += 1
                stack.append(vertex)
                on_stack.add(vertex)
            children = edges.get(vertex, [])
            descended = False
            while child_index < len(children):
                child = children[child_index]
                child_index += 1
                if child not in order:
                    work.append((vertex, child_index))
                    work.append((child, 0))
                    descended = True
                    break
                if child in on_stack:
                    lowlink[vertex] = min(lowlink[vertex], order[child])
            if descended:
                continue
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[vertex])
            if lowlink[vertex] == order[vertex]:
                component: list[int] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == vertex:
                        break
                components.append(sorted(component))
    return sorted(components)


def cyclic_components(vertices: list[int], edges: dict[int, list[int]]) -> list[list[int]]:
    """Components that contain a cycle: more than one vertex, or one vertex with a self-edge."""
    return [
        component
        for component in strongly_connected(vertices, edges)
        if len(component) > 1 or component[0] in edges.get(component[0], [])
    ]
