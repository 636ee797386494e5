// A fresh directory under /tmp for one test, removed with all it holds when
// the test ends.
#pragma once

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace dht::test {

struct TempDir {
    std::string path;

    explicit TempDir(const std::string &name = "dht-test")
    {
        std::string tmpl = "/tmp/" + name + ".XXXXXX";
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
};

}  // namespace dht::test
