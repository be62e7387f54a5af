#include "probe/function_hooks.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <memory>

#include "shimwatch/fd.hpp"
#include "shimwatch/text.hpp"

namespace shimwatch::function_hooks {

namespace {

struct BtfFree {
  void operator()(btf *b) const { btf__free(b); }
};

// The type behind id, past const, volatile, restrict and typedefs.
const btf_type *resolved(const btf *types, __u32 id) {
  const btf_type *t = btf__type_by_id(types, id);
  while (t && (btf_is_mod(t) || btf_is_typedef(t)))
    t = btf__type_by_id(types, t->type);
  return t;
}

// Whether type id is a pointer to struct name.
bool points_to_struct(const btf *types, __u32 id, const char *name) {
  const btf_type *t = resolved(types, id);
  if (!t || !btf_is_ptr(t))
    return false;
  t = resolved(types, t->type);
  return t && btf_is_struct(t) && std::strcmp(btf__name_by_offset(types, t->name_off), name) == 0;
}

// The prototype of function in types, checked against what the programs
// read; "" when it fits.
std::string prototype_mismatch(const btf *types, int func_id, const KernelFunction &function) {
  const btf_type *func = btf__type_by_id(types, func_id);
  const btf_type *proto = func ? btf__type_by_id(types, func->type) : nullptr;
  if (!proto || !btf_is_func_proto(proto))
    return "it has no prototype in the kernel's BTF";
  if (btf_vlen(proto) != function.params)
    return "it takes " + std::to_string(btf_vlen(proto)) + " arguments here, not " +
           std::to_string(function.params);
  const btf_param *params = btf_params(proto);
  for (const auto &[index, struct_name] : function.struct_params)
    if (index >= function.params || !points_to_struct(types, params[index].type, struct_name))
      return "its argument " + std::to_string(index + 1) + " is no struct " + struct_name +
             " pointer here";
  return "";
}

// An empty program of type (fentry or fexit) loaded and attached to
// func_id: what the kernel says to that.
std::string attach_refusal(int func_id, bpf_attach_type type, const char *name) {
  bpf_insn insns[2] = {};
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K; // r0 = 0
  insns[1].code = BPF_JMP | BPF_EXIT;
  LIBBPF_OPTS(bpf_prog_load_opts, opts);
  opts.expected_attach_type = type;
  opts.attach_btf_id = static_cast<__u32>(func_id);
  Fd program(bpf_prog_load(BPF_PROG_TYPE_TRACING, nullptr, "GPL", insns, 2, &opts));
  if (!program)
    return "the kernel refuses BPF trampoline programs (an empty " +
           std::string(type == BPF_TRACE_FENTRY ? "fentry" : "fexit") +
           " program: " + errno_text(errno) + ")";
  // The attach call of every kernel with trampolines (LINK_CREATE took
  // tracing programs only later).
  Fd link(bpf_raw_tracepoint_open(nullptr, program.get()));
  if (!link)
    return "attaching an empty program to " + std::string(name) + " failed: " + errno_text(errno);
  return "";
}

} // namespace

std::vector<std::string> refusals(std::span<const KernelFunction> functions) {
  std::unique_ptr<btf, BtfFree> vmlinux(btf__load_vmlinux_btf());
  const std::string no_btf =
      vmlinux ? "" : "the kernel's BTF cannot be read (" + errno_text(errno) + ")";
  std::vector<std::string> out;
  for (const auto &function : functions) {
    if (!vmlinux) {
      out.push_back(no_btf);
      continue;
    }
    const int func_id = btf__find_by_name_kind(vmlinux.get(), function.name, BTF_KIND_FUNC);
    if (func_id < 0) {
      out.push_back(std::string(function.name) +
                    " is not in the kernel's BTF (inlined or renamed here)");
      continue;
    }
    std::string why = prototype_mismatch(vmlinux.get(), func_id, function);
    if (!why.empty()) {
      out.push_back(std::string(function.name) + ": " + why);
      continue;
    }
    for (bpf_attach_type type : {BPF_TRACE_FENTRY, BPF_TRACE_FEXIT})
      if (why.empty())
        why = attach_refusal(func_id, type, function.name);
    out.push_back(why);
  }
  return out;
}

} // namespace shimwatch::function_hooks
