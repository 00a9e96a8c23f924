"""The stand-in's metrics page line by line as TF Serving 2.16.1 prints it: util.cc's metric
names and labels, monitoring::Buckets::Exponential(10, 1.8, 33) for latency, and
prometheus_exporter.cc's layout (metrics by name, `# TYPE` lines, no HELP, cumulative buckets
ending in +Inf, `_sum` and `_count` with the same labels)."""

from __future__ import annotations

from serving.standin.server import LATENCY_BUCKETS, Metrics


def test_latency_buckets_are_tensorflows_exponential_ones() -> None:
    bounds, bound = [], 10.0
    for _ in range(33):  # sampler.cc multiplies the previous bound; DBL_MAX closes the list
        bounds.append(bound)
        bound *= 1.8
    assert (*bounds, float("inf")) == LATENCY_BUCKETS


def test_the_page_has_upstreams_names_labels_and_layout() -> None:
    metrics = Metrics()
    metrics.request("taxi_tips", "OK", "predict", "REST", 15.0)
    metrics.request("taxi_tips", "UNAVAILABLE", "predict", "REST", 99.0)  # counted, no latency
    metrics.batch("input_batch_size", 3)
    lines = metrics.exposition().splitlines()
    assert lines[0] == "# TYPE :tensorflow:serving:batching_session:input_batch_size histogram"
    i = lines.index("# TYPE :tensorflow:serving:request_count counter")
    assert lines[i + 1 : i + 3] == [
        ':tensorflow:serving:request_count{model_name="taxi_tips",status="OK"} 1',
        ':tensorflow:serving:request_count{model_name="taxi_tips",status="UNAVAILABLE"} 1',
    ]
    assert lines[i + 3] == "# TYPE :tensorflow:serving:request_latency histogram"
    prefix = ':tensorflow:serving:request_latency_bucket{model_name="taxi_tips",API="predict",'
    buckets = lines[i + 4 : i + 4 + 34]
    assert buckets[0] == prefix + 'entrypoint="REST",le="10"} 0'
    assert buckets[1] == prefix + 'entrypoint="REST",le="18"} 1'  # 15 us < 18: bucket 1
    assert buckets[-2] == prefix + 'entrypoint="REST",le="1.47476e+09"} 1'
    assert buckets[-1] == prefix + 'entrypoint="REST",le="+Inf"} 1'
    labels = 'model_name="taxi_tips",API="predict",entrypoint="REST"'
    assert lines[i + 38 : i + 40] == [
        f":tensorflow:serving:request_latency_sum{{{labels}}} 15",
        f":tensorflow:serving:request_latency_count{{{labels}}} 1",
    ]
    assert not any(line.startswith("# HELP") for line in lines)


def test_the_page_is_served_as_plain_text_and_a_failed_prediction_counts_under_its_model() -> None:
    """http_server.cc sets exactly `Content-Type: text/plain`; http_rest_api_handler.cc names
    the model from the path before the request fails, so its error is the model's."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from typing import cast

    from aiohttp.test_utils import TestClient, TestServer

    from serving.standin.faults import Faults
    from serving.standin.model_manager import ModelManager
    from serving.standin.server import StandInServer

    async def main() -> tuple[str, str]:
        executor = ThreadPoolExecutor(1)
        server = StandInServer(
            cast(ModelManager, None),  # the fault fails the prediction before any model lookup
            executor,
            monitoring_path="/monitoring/prometheus/metrics",
            max_request_bytes=1 << 20,
            faults=Faults(failure_ratio=1.0),
        )
        async with TestClient(TestServer(server.app())) as client:
            answer = await client.post("/v1/models/taxi_tips:predict", data=b"{}")
            assert answer.status == 503
            page = await client.get("/monitoring/prometheus/metrics")
            text = await page.text()
        executor.shutdown(wait=False)
        return page.headers["Content-Type"], text

    content_type, text = asyncio.run(main())
    assert content_type == "text/plain"
    assert (
        ':tensorflow:serving:request_count{model_name="taxi_tips",status="UNAVAILABLE"} 1'
        in text.splitlines()
    )


def test_the_faults_are_off_unless_asked_for() -> None:
    from serving.standin.server import build_parser

    args = build_parser().parse_args(
        ["--port", "1", "--rest_api_port", "2", "--model_config_file", "m.config"]
    )
    assert (args.test_failure_ratio, args.test_delay_ms) == (0.0, 0.0)
