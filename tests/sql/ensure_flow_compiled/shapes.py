"""FlowShape documents used by the ensure_flow_compiled tests."""


def step(slug, deps=(), **extra):
    shape = {"slug": slug, "stepType": "single", "dependencies": sorted(deps), "whenUnmet": "skip",
             "whenExhausted": "fail", "requiredInputPattern": {"defined": False},
             "forbiddenInputPattern": {"defined": False}}
    shape.update(extra)
    return shape


TWO_STEPS = {"steps": [step("fetch"), step("save", ["fetch"])]}
THREE_STEPS = {"steps": [step("fetch"), step("parse", ["fetch"]), step("save", ["parse"])]}
