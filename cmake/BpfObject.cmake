# Build rules for the kernel side: vmlinux.h from the running kernel's BTF,
# BPF objects compiled with clang, and libbpf skeletons from bpftool.

find_program(BPF_CLANG NAMES clang REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

set(SHIMWATCH_VMLINUX_BTF "/sys/kernel/btf/vmlinux" CACHE FILEPATH
    "Kernel BTF that vmlinux.h is generated from")

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64")
  set(BPF_TARGET_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(BPF_TARGET_ARCH arm64)
else()
  message(FATAL_ERROR "shimwatch: unsupported architecture ${CMAKE_SYSTEM_PROCESSOR}")
endif()

set(BPF_GENERATED_DIR "${CMAKE_BINARY_DIR}/bpf")
file(MAKE_DIRECTORY "${BPF_GENERATED_DIR}")

if(NOT EXISTS "${SHIMWATCH_VMLINUX_BTF}")
  message(FATAL_ERROR "shimwatch: ${SHIMWATCH_VMLINUX_BTF} not found. The kernel must be "
                      "built with CONFIG_DEBUG_INFO_BTF=y (or set SHIMWATCH_VMLINUX_BTF).")
endif()

add_custom_command(
  OUTPUT "${BPF_GENERATED_DIR}/vmlinux.h"
  COMMAND "${BPFTOOL}" btf dump file "${SHIMWATCH_VMLINUX_BTF}" format c
          > "${BPF_GENERATED_DIR}/vmlinux.h.tmp"
  COMMAND ${CMAKE_COMMAND} -E rename "${BPF_GENERATED_DIR}/vmlinux.h.tmp"
          "${BPF_GENERATED_DIR}/vmlinux.h"
  COMMENT "Generating vmlinux.h from ${SHIMWATCH_VMLINUX_BTF}"
  VERBATIM)

# bpf_object(NAME SOURCE [HEADERS...]) compiles SOURCE into NAME.bpf.o and
# generates NAME.skel.h; link the interface target NAME_skel to use it.
function(bpf_object name source)
  set(object "${BPF_GENERATED_DIR}/${name}.bpf.o")
  set(skeleton "${BPF_GENERATED_DIR}/${name}.skel.h")
  add_custom_command(
    OUTPUT "${object}"
    COMMAND "${BPF_CLANG}" -g -O2 -Wall -Werror -target bpf
            -D__TARGET_ARCH_${BPF_TARGET_ARCH}
            -I "${BPF_GENERATED_DIR}" -I "${CMAKE_CURRENT_SOURCE_DIR}/bpf"
            -c "${CMAKE_CURRENT_SOURCE_DIR}/${source}" -o "${object}"
    DEPENDS "${source}" ${ARGN} "${BPF_GENERATED_DIR}/vmlinux.h"
    COMMENT "Compiling BPF object ${name}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT "${skeleton}"
    COMMAND "${BPFTOOL}" gen skeleton "${object}" name "${name}_bpf" > "${skeleton}.tmp"
    COMMAND ${CMAKE_COMMAND} -E rename "${skeleton}.tmp" "${skeleton}"
    DEPENDS "${object}"
    COMMENT "Generating BPF skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS "${skeleton}")
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE "${BPF_GENERATED_DIR}")
endfunction()
