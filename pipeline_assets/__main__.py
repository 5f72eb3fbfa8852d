from pipeline_assets.cli.main import main

main()
