# gridmap: `make run` serves the map, `make test` proves it. Both set themselves up.
.PHONY: setup run test stop lint bench clean

setup:
	bash scripts/setup.sh

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

stop:
	bash scripts/pg.sh stop var/pg

lint: setup
	.venv/bin/ruff check . && .venv/bin/mypy && .venv/bin/lint-imports

clean:
	bash scripts/pg.sh destroy var/pg
	rm -rf var .venv node_modules webmap/static/vendor
