"""The DuckDB side of benchmarks/kpi_vs_duckdb.py: the KPIs of `salesnb kpi --json` in plain
SQL over the Parquet files, written as a careful analyst would for exports as they come
(text trimmed, status case-insensitive, rows in any order). No validation.

Usage: python benchmarks/duckdb_kpi.py DATA START END   (local naive timestamps)
"""

import json
import sys

import duckdb

data, start, end = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
S, E = f"TIMESTAMP '{start}'", f"TIMESTAMP '{end}'"


def q(sql):
    return con.execute(sql).fetchall()


stages = ['lead', 'qualified', 'proposal', 'negotiation']
con.execute("CREATE TEMP TABLE st AS SELECT * FROM (VALUES ('lead',0),('qualified',1),('proposal',2),('negotiation',3)) t(stage,pos)")
# what was known at as_of = end
con.execute(f"""CREATE TEMP TABLE k AS SELECT trim(opportunity_id) AS opportunity_id, trim(owner) AS owner,
   created_at, amount, nullif(trim(stage), '') AS stage, nullif(trim(lost_reason), '') AS lost_reason,
   CASE WHEN closed_at <= {E} THEN lower(trim(status)) ELSE 'open' END AS status_asof,
   CASE WHEN closed_at <= {E} THEN closed_at END AS closed_asof
   FROM read_parquet('{data}/opportunities.parquet') WHERE created_at <= {E}""")
con.execute(f"""CREATE TEMP TABLE h AS SELECT trim(opportunity_id) AS opportunity_id, trim(stage) AS stage, entered_at,
   row_number() OVER () AS seq FROM read_parquet('{data}/stage_history.parquet') WHERE entered_at <= {E}""")
doc = {}
doc['open_by_owner'] = dict(q("SELECT owner, count(*) FROM k WHERE status_asof='open' GROUP BY owner"))
doc['created_by_owner'] = dict(q(f"SELECT owner, count(*) FROM k WHERE created_at >= {S} AND created_at < {E} GROUP BY owner"))
closed = f"closed_asof >= {S} AND closed_asof < {E}"
doc['won_by_owner'] = dict(q(f"SELECT owner, count(*) FROM k WHERE status_asof='won' AND {closed} GROUP BY owner"))
doc['lost_by_owner'] = dict(q(f"SELECT owner, count(*) FROM k WHERE status_asof='lost' AND {closed} GROUP BY owner"))
doc['lost_by_reason'] = dict(q(f"SELECT coalesce(lost_reason,'(unspecified)'), count(*) FROM k WHERE status_asof='lost' AND {closed} GROUP BY 1"))
mean, median, total, n_amt, n_won = q(f"SELECT avg(amount), median(amount), coalesce(sum(amount),0), count(amount), count(*) FROM k WHERE status_asof='won' AND {closed}")[0]
doc['volume'] = [mean, median, total, n_amt, n_won - n_amt]
doc['flags'] = q(f"SELECT count(*) FILTER (WHERE amount > {mean} * 1.5), count(*) FILTER (WHERE amount < {mean} * 0.5) FROM k WHERE status_asof='open'")[0] if mean is not None else [0, 0]
doc['win_rate_closed'] = q(f"SELECT count(*) FILTER (WHERE status_asof='won') / count(*) FROM k WHERE status_asof IN ('won','lost') AND {closed}")[0][0]
doc['win_rate_by_owner'] = dict(q(f"SELECT owner, count(*) FILTER (WHERE status_asof='won') / count(*) FROM k WHERE status_asof IN ('won','lost') AND {closed} GROUP BY owner"))
doc['cohort'] = q(f"SELECT count(*) FILTER (WHERE status_asof='won') / count(*), count(*) FILTER (WHERE status_asof='open') / count(*) FROM k WHERE created_at >= {S} AND created_at < {E}")[0]
con.execute(f"""CREATE TEMP TABLE c AS
  SELECT k.opportunity_id, k.status_asof, coalesce(d.deep, sc.pos, 0) AS deep
  FROM k
  LEFT JOIN (SELECT h.opportunity_id, max(st.pos) AS deep FROM h JOIN st USING (stage) GROUP BY 1) d USING (opportunity_id)
  LEFT JOIN st sc ON sc.stage = k.stage
  WHERE k.created_at >= {S} AND k.created_at < {E}""")
funnel = []
for i, s in enumerate(stages):
    reached, lost_here = q(f"SELECT count(*) FILTER (WHERE deep >= {i} OR status_asof='won'), count(*) FILTER (WHERE status_asof='lost' AND deep = {i}) FROM c")[0]
    funnel.append([s, reached, lost_here])
med = dict(q("""
  WITH v AS (
    SELECT h.opportunity_id, h.stage, h.entered_at,
      lead(h.entered_at) OVER (PARTITION BY h.opportunity_id ORDER BY h.entered_at, h.seq) AS nxt
    FROM h JOIN c USING (opportunity_id))
  SELECT v.stage, median(epoch(coalesce(v.nxt, k.closed_asof) - v.entered_at) / 86400.0)
  FROM v JOIN k USING (opportunity_id) JOIN st ON st.stage = v.stage
  WHERE coalesce(v.nxt, k.closed_asof) IS NOT NULL GROUP BY 1"""))
doc['funnel'] = [[s, r, lost, med.get(s)] for s, r, lost in funnel]
doc['cycle'] = q(f"SELECT count(*), avg(epoch(closed_asof - created_at)/86400.0), median(epoch(closed_asof - created_at)/86400.0) FROM k WHERE status_asof='won' AND {closed}")[0]
doc['cycle_by_owner'] = dict(q(f"SELECT owner, avg(epoch(closed_asof - created_at)/86400.0) FROM k WHERE status_asof='won' AND {closed} GROUP BY owner"))
print(json.dumps(doc, default=float))
