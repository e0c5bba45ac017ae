# 64-bit ARM tablets (Debian arm64): cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
# Needs crossbuild-essential-arm64, qemu-user and the -dev packages :arm64
# (scripts/cross installs them).
set(MQ_CROSS_TRIPLE aarch64-linux-gnu)
set(MQ_CROSS_PROCESSOR aarch64)
set(MQ_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/cross-debian.cmake)
