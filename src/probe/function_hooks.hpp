// Whether a kernel function can carry a probe (fentry/fexit) on this kernel.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace shimwatch::function_hooks {

// A kernel function as the programs of bpf/functions.bpf.h expect it: its
// parameter count, and the parameters (by index) that must point to a
// struct of the given name. The verifier types a program's arguments from
// the kernel's own BTF, so a function whose prototype changed would be read
// wrongly rather than refused: the prototype is checked here first.
struct KernelFunction {
  const char *name;
  size_t params;
  std::vector<std::pair<size_t, const char *>> struct_params;
};

// Per function: "" when fentry and fexit programs can be attached to it
// here; else why not, in words for the start log and `check` (no kernel
// BTF, not in it, another prototype, a kernel that refuses BPF trampolines
// ...). The kernel's BTF is read once for all of them.
std::vector<std::string> refusals(std::span<const KernelFunction> functions);

} // namespace shimwatch::function_hooks
