# back ends of cnnc: target_sources(cnnc PRIVATE ...) and their settings
