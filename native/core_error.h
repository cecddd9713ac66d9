// The one C++ exception type of the N-API-free core. The binding layer turns it into
// a JS GnnrlError with the same code; the fuzz driver prints it. Keeping it free of
// N-API lets the core compile alone under sanitizers.
#pragma once
#include <cstdint>
#include <exception>
#include <string>

namespace gnnrl {

enum class ErrCode { Input, Limit, Native };

struct CoreError : std::exception {
  ErrCode code;
  std::string message;
  std::string arg;      // argument name, "" when none
  int64_t index = -1;   // index into `arg`, -1 when none
  CoreError(ErrCode c, std::string msg, std::string a = "", int64_t i = -1)
      : code(c), message(std::move(msg)), arg(std::move(a)), index(i) {}
  const char* what() const noexcept override { return message.c_str(); }
};

[[noreturn]] inline void throwInput(const std::string& arg, int64_t index, const std::string& expected) {
  std::string where = index < 0 ? arg : arg + "[" + std::to_string(index) + "]";
  throw CoreError(ErrCode::Input, where + ": expected " + expected, arg, index);
}

[[noreturn]] inline void throwLimit(const std::string& msg) { throw CoreError(ErrCode::Limit, msg); }

// JS prints non-finite doubles as NaN / Infinity / -Infinity; the only doubles the core
// ever names in a message are those, or integers, so both builders word them alike.
inline std::string jsNumber(double v) {
  if (v != v) return "NaN";
  if (v == 1.0 / 0.0) return "Infinity";
  if (v == -1.0 / 0.0) return "-Infinity";
  if (v == static_cast<double>(static_cast<int64_t>(v))) return std::to_string(static_cast<int64_t>(v));
  return std::to_string(v);  // not reached by the builders (only integers/non-finite are named)
}

}  // namespace gnnrl
