// Include this before any Boost.Asio/Beast header (design.md §6): with g++ 12 in C++20 mode,
// Boost 1.74's <boost/asio/awaitable.hpp> uses std::exchange without including <utility>.
#pragma once

// <utility> must stay first.
// clang-format off
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
// clang-format on
