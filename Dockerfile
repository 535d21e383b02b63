# One static binary serves the operator, the conversion Jobs and the
# preference center.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X github.com/contactconverter/contact-converter/internal/cli.Version=${VERSION}" \
      -o /out/contact-converter .

# distroless/static: CA certificates and tzdata, no shell, non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/contact-converter /contact-converter
USER 65532:65532
ENTRYPOINT ["/contact-converter"]
CMD ["manager"]
