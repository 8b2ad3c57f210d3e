#include "stats.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using csd::client::percentile;
using csd::client::summarize;

TEST_CASE("nearest-rank percentiles") {
    std::vector<std::uint64_t> values;
    for (std::uint64_t i = 1; i <= 100; ++i) values.push_back(i);
    CHECK(percentile(values, 50) == 50);
    CHECK(percentile(values, 90) == 90);
    CHECK(percentile(values, 99) == 99);
    CHECK(percentile(values, 100) == 100);
    CHECK(percentile(values, 0.5) == 1);
}

TEST_CASE("percentiles of few values") {
    const std::vector<std::uint64_t> one{7};
    CHECK(percentile(one, 50) == 7);
    CHECK(percentile(one, 99) == 7);
    const std::vector<std::uint64_t> three{1, 2, 3};
    CHECK(percentile(three, 50) == 2);
    CHECK(percentile(three, 90) == 3);
}

TEST_CASE("summarize sorts and handles empty input") {
    std::vector<std::uint64_t> none;
    const auto empty = summarize(none);
    CHECK(empty.max == 0);
    std::vector<std::uint64_t> values{30, 10, 20};
    const auto summary = summarize(values);
    CHECK(summary.p50 == 20);
    CHECK(summary.p90 == 30);
    CHECK(summary.max == 30);
}

TEST_CASE("the client's busy share: CPU over elapsed time on the CPUs it can use") {
    using csd::client::client_busy_share;
    CHECK(client_busy_share(1.0, 1.0, 1, 2) == doctest::Approx(1.0));   // one process, one CPU
    CHECK(client_busy_share(1.0, 1.0, 5, 2) == doctest::Approx(0.5));   // 5 processes, 2 CPUs
    CHECK(client_busy_share(0.9, 1.0, 2, 4) == doctest::Approx(0.45));  // 2 processes, 4 CPUs
    CHECK(client_busy_share(3.0, 1.0, 1, 1) == doctest::Approx(1.0));   // capped
    CHECK(client_busy_share(1.0, 0.0, 1, 1) == 0.0);
}
