# Makefile fragment for the container image; the top-level Makefile does
# `include deploy/build.mk`. Paths are relative to the repository root.
#
#   make image-binary   the Linux/amd64 binary exactly as the image builds it
#                       (same go build flags as deploy/Dockerfile; a test in
#                       deploy/ keeps the two equal)
#   make image          the container image; needs a Docker engine (BuildKit)

IMAGE ?= paredao:dev
BIN_DIR ?= bin

.PHONY: image-binary image

image-binary:
	mkdir -p $(BIN_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags="-s -w" -o $(BIN_DIR)/paredao-linux-amd64 ./cmd/paredao

# Needs a running Docker engine with BuildKit (Docker 23 or later).
image:
	docker build -f deploy/Dockerfile -t $(IMAGE) .
