from api_service.server import main

main()
