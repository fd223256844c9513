"""Carry out a plan: download and cache, stage, install with pip or uv, under a lock.

One module per role, imported where used (this package imports nothing, so importing
`wheelmagic.install.plan` never loads httpx or the downloader):

- `plan`: `make_plan` and the `Plan` every front end shares;
- `execute`: `execute(plan, ...)`, all or nothing, and its `ExecuteResult`;
- `download`: `Fetcher` (hash, resume, retry) and `planned_downloader`;
- `cache`: the content-addressed `WheelCache` behind `wheelmagic cache`; `digests`: a
  verified sha256 kept on the file for the next process;
- `progress`: `ProgressEvent`s and their throttle;
- `stage`: wheel rewriting for stock installers; `record`: RECORD rows as values;
- `backends`: pip and uv; `lock`: the environment lock and the backup.
"""
