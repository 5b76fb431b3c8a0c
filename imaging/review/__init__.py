"""The doctor's review of AI findings: the viewer page and its data, accept / reject / correct /
add, sign-off with a report and an SR, re-opening, the worklist and the feedback loop."""
