// Recoverable errors as values: a Result<T> holds either a T or an Error.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace shimwatch {

struct Error {
  std::string message;
  int errno_value = 0; // 0 when no system call is behind the error
};

template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : storage_(std::move(value)) {}
  Result(Error error) : storage_(std::move(error)) {}

  bool ok() const { return std::holds_alternative<T>(storage_); }
  explicit operator bool() const { return ok(); }

  T &value() & { return std::get<T>(storage_); }
  const T &value() const & { return std::get<T>(storage_); }
  T &&value() && { return std::get<T>(std::move(storage_)); }
  T &operator*() & { return value(); }
  const T &operator*() const & { return value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

  const Error &error() const { return std::get<Error>(storage_); }

private:
  std::variant<T, Error> storage_;
};

// For operations that return nothing but may fail.
struct Ok {};
using Status = Result<Ok>;

} // namespace shimwatch
