"""The parts of several-node operation that need no second node: draining, the database
URL with several hosts, the HAProxy configuration and the one-of-each lock."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from django.core.management import call_command
from django.db import connection

from kreide.core import drain, leader
from kreide.settings import database_settings
from kreide.status.management.commands import haproxy_config


@pytest.mark.django_db
def test_a_draining_node_says_so_on_readyz_and_serve_takes_it_back(client, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    assert client.get("/readyz").status_code == 200
    call_command("drain", stdout=io.StringIO())
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json()["status"] == "draining"
    assert client.get("/healthz").status_code == 200  # alive: requests under way finish
    call_command("drain", "--end", stdout=io.StringIO())
    assert client.get("/readyz").status_code == 200
    drain.begin()
    drain.end()
    assert not drain.draining()


def test_database_url_with_several_hosts_goes_to_libpq():
    parsed = database_settings(
        "postgres://kreide:geheim@db1.example:5432,db2.example:5433,db3.example/kreide"
        "?target_session_attrs=read-write"
    )
    assert parsed["HOST"] == "db1.example,db2.example,db3.example"
    assert parsed["PORT"] == "5432,5433,5432"
    assert parsed["NAME"] == "kreide" and parsed["USER"] == "kreide"
    assert parsed["PASSWORD"] == "geheim"
    assert parsed["OPTIONS"]["target_session_attrs"] == "read-write"
    single = database_settings("postgres://kreide@127.0.0.1:5432/kreide")
    assert (single["HOST"], single["PORT"]) == ("127.0.0.1", 5432)


def test_prepared_statements_on_by_default_and_off_for_pgbouncer(monkeypatch):
    monkeypatch.delenv("KREIDE_DB_PREPARED_STATEMENTS", raising=False)
    options = database_settings("postgres://kreide@db1.example/kreide?sslmode=require")["OPTIONS"]
    assert options == {"sslmode": "require", "server_side_binding": True, "prepare_threshold": 1}
    monkeypatch.setenv("KREIDE_DB_PREPARED_STATEMENTS", "false")  # PgBouncer < 1.21
    options = database_settings("postgres://kreide@db1.example/kreide?sslmode=require")["OPTIONS"]
    assert options == {"sslmode": "require"}
    monkeypatch.delenv("KREIDE_DB_PREPARED_STATEMENTS")
    assert "OPTIONS" not in database_settings("sqlite:///kreide.sqlite3")


def test_haproxy_config_checks_readyz_and_keeps_websockets(tmp_path):
    config = haproxy_config.render(
        listen="127.0.0.1:8080",
        nodes=["10.0.0.11:80", "10.0.0.12:80"],
        run_dir=tmp_path,
        check_host="schule.example",
        maxconn=1000,
    )
    assert "server node1 10.0.0.11:80" in config and "server node2 10.0.0.12:80" in config
    assert "uri /readyz" in config and "hdr Host schule.example" in config
    assert "timeout tunnel 1h" in config
    if shutil.which("haproxy"):  # HAProxy itself accepts it
        (tmp_path / "haproxy.cfg").write_text(config)
        checked = subprocess.run(
            ["haproxy", "-c", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stderr
    with pytest.raises(ValueError):
        haproxy_config.render(listen=":80", nodes=[], run_dir=tmp_path, check_host="x")
    # Clients cannot choose the scheme the nodes believe.
    assert "set-header X-Forwarded-Proto http if !{ ssl_fc }" in config
    assert "kreide_redis" not in config


def test_haproxy_config_follows_the_redis_master(tmp_path):
    config = haproxy_config.render(
        listen="127.0.0.1:8080",
        nodes=["10.0.0.11:80"],
        run_dir=tmp_path,
        check_host="schule.example",
        maxconn=1000,
        redis=["10.0.0.21:6379", "10.0.0.22:6379"],
        redis_listen="127.0.0.1:6380",
    )
    redis = config[config.index("listen kreide_redis") :]
    assert "bind 127.0.0.1:6380" in redis and "mode tcp" in redis
    assert "tcp-check expect string role:master" in redis
    assert "server redis1 10.0.0.21:6379" in redis and "server redis2 10.0.0.22:6379" in redis
    if shutil.which("haproxy"):
        (tmp_path / "haproxy.cfg").write_text(config)
        checked = subprocess.run(
            ["haproxy", "-c", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True, text=True
        )
        assert checked.returncode == 0 and "WARNING" not in checked.stderr, checked.stderr


@pytest.mark.django_db
def test_nginx_behind_haproxy_takes_client_address_and_scheme_from_it(tmp_path):
    from kreide.status.management.commands import nginx_config

    common = {"listen": "80", "wsgi_address": "127.0.0.1:8000", "asgi_address": "127.0.0.1:8001"}
    alone = nginx_config.render(run_dir=tmp_path, **common)
    assert "set_real_ip_from" not in alone
    assert "X-Forwarded-Proto $scheme;" in alone
    behind = nginx_config.render(run_dir=tmp_path, real_ip_from=["10.0.0.5"], **common)
    assert "set_real_ip_from 10.0.0.5;" in behind and "real_ip_header X-Forwarded-For;" in behind
    assert "X-Forwarded-Proto $http_x_forwarded_proto;" in behind
    assert "X-Forwarded-Proto $scheme;" not in behind


@pytest.mark.django_db(transaction=True)
def test_one_of_each_job_runs_on_one_node_at_a_time():
    first, second = leader.Leadership("test-job"), leader.Leadership("test-job")
    try:
        assert first.held()
        if connection.vendor == "postgresql":
            assert not second.held()  # another process, or node, asks: not its turn
            with leader.exclusive("test-job") as leading:
                assert not leading
            first.release()  # the leader stops: the next one to ask leads
            assert second.held()
        else:  # the embedded default is one node: it always leads
            assert second.held()
    finally:
        first.release()
        second.release()


@pytest.mark.django_db(transaction=True)
def test_housekeeping_leaves_the_work_to_the_node_running_it(capsys):
    if connection.vendor != "postgresql":
        pytest.skip("on SQLite the one node always leads")
    running = leader.Leadership("housekeeping")
    try:
        assert running.held()
        call_command("housekeeping")
        assert "Another node is running the housekeeping" in capsys.readouterr().out
    finally:
        running.release()
    call_command("housekeeping")
    assert "Another node" not in capsys.readouterr().out
