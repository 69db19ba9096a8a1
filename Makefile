.PHONY: demo test

# make demo ARGS="--port 9000"; make test ARGS="tests/browser -x"
ARGS ?=

demo:
	scripts/demo $(ARGS)

test:
	scripts/test -q $(ARGS)
