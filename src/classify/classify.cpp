#include "shimwatch/classify.hpp"

namespace shimwatch {

std::string_view basename_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

Classifier::Classifier(const Config &config)
    : exec_names_(config.watch_exec.begin(), config.watch_exec.end()) {}

bool Classifier::accept(const Event &event) const {
  if (event.action != Action::docker_cli_exec)
    return true;
  // Without the path (unreadable in the kernel) comm is all there is.
  std::string_view name =
      event.exec_path.empty() ? std::string_view(event.process.name) : basename_of(event.exec_path);
  return exec_names_.count(std::string(name)) > 0;
}

} // namespace shimwatch
