# 32-bit ARM tablets (Debian armhf, ARMv7 with hardware floating point):
# cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-arm-linux-gnueabihf.cmake
# Needs crossbuild-essential-armhf, qemu-user and the -dev packages :armhf
# (scripts/cross installs them).
set(MQ_CROSS_TRIPLE arm-linux-gnueabihf)
set(MQ_CROSS_PROCESSOR arm)
set(MQ_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/cross-debian.cmake)
