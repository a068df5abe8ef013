module conform.example/rules-sdk/go

go 1.24
