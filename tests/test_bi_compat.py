"""Every published table reads back in DuckDB, pyarrow and pandas, in types BI tools take."""

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from communique.catalog import connect
from communique.store import current_snapshot, read_table, table_files
from schemas import TABLES
from tests.bi_tables import publish_snapshot


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("published")
    publish_snapshot(out_dir)
    return out_dir


def unsupported(field: pa.Field) -> str | None:
    kind = field.type
    if pa.types.is_nested(kind):
        return "nested (Tableau's Hyper refuses it)"
    if pa.types.is_unsigned_integer(kind):
        return "unsigned (Spark reads UInt64 as decimal)"
    if pa.types.is_timestamp(kind) and (kind.unit, kind.tz) != ("us", "UTC"):
        return "a timestamp that is not UTC microseconds"
    if pa.types.is_dictionary(kind):
        return "dictionary-typed (a polars Categorical): not every reader maps it"
    return None


@pytest.mark.parametrize("table", list(TABLES))
def test_every_table_reads_back_in_duckdb_pyarrow_and_pandas(out_dir, table):
    expected = read_table(out_dir, table)
    assert expected.height > 0, "the fixture should fill every table"
    files = table_files(current_snapshot(out_dir), table)
    with connect(out_dir) as con:
        assert con.execute(f"select count(*) from {table}").fetchall() == [(expected.height,)]
        direct = con.execute(f"select count(*) from read_parquet('{out_dir}/{table}/*.parquet')")
        assert direct.fetchall() == [(expected.height,)]
    arrow = pq.read_table(out_dir / table)  # the stable link, as a BI tool would open it
    assert arrow.num_rows == expected.height
    assert arrow.column_names == expected.columns
    frame = pd.concat([pd.read_parquet(path) for path in files])
    assert list(frame.columns) == expected.columns and len(frame) == expected.height


@pytest.mark.parametrize("table", list(TABLES))
def test_column_types_are_ones_every_bi_reader_handles(out_dir, table):
    for path in table_files(current_snapshot(out_dir), table):
        schema = pq.read_schema(path)
        problems = {f.name: why for f in schema if (why := unsupported(f))}
        assert not problems, f"{table}: {problems}"


@pytest.mark.parametrize("table", list(TABLES))
def test_every_column_chunk_is_snappy_compressed(out_dir, table):
    for path in table_files(current_snapshot(out_dir), table):
        metadata = pq.read_metadata(path)
        assert metadata.num_row_groups > 0
        codecs = {
            metadata.row_group(g).column(c).compression
            for g in range(metadata.num_row_groups)
            for c in range(metadata.num_columns)
        }
        assert codecs == {"SNAPPY"}, f"{path.name}: {codecs}"


def test_timestamps_are_utc_microseconds_where_there_are_timestamps(out_dir):
    schema = pq.read_schema(table_files(current_snapshot(out_dir), "runs")[0])
    assert schema.field("started_at").type == pa.timestamp("us", tz="UTC")
