"""The live special inquiry (专题询问): topics, turns, the floor, timers."""
